"""The op tables, one module per family; ``registry`` holds the record and the runner."""
