# scripts: rules follow as this area lands.
