# bench: rules follow as this area lands.
