# contrib/imsim: rules follow as this area lands.
