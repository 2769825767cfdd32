# plugins/jsonl: rules follow as this area lands.
