# Man pages and design notes.
dist_man_MANS += doc/immigrate.1
EXTRA_DIST += doc/architecture.md README.md
