"""`mmgenre serve`."""

COMMANDS: list = []
