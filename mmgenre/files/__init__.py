"""How mmgenre touches files: one guarded writer (`writer.py`), one bounded reader (`reader.py`) and the
base of every file schema (`schema.py`). A command that writes or reads through them gets their guarantees."""
