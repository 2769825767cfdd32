# Bundled mapping scripts, installed in $(pkgscriptsdir) where job files find
# them by bare name (script = "identity"). Tests use the source tree's copies
# through IMMIGRATE_SCRIPT_PATH.
dist_pkgscripts_DATA += scripts/identity.lua
