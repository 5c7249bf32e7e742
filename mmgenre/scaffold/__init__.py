"""`mmgenre plugin new`: a working, installable plugin package for one component, to start a plugin from."""

from mmgenre.scaffold.generate import NewPlugin, new_plugin

__all__ = ["NewPlugin", "new_plugin"]
