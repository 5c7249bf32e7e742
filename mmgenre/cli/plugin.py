"""`mmgenre plugin`."""

COMMANDS: list = []
