# doc: rules follow as this area lands.
