"""Conformance checks for mmgenre components: does a component honour the contract of its kind?

    from mmgenre.testing import check_component
    check_component(MyHead)          # every check of its kind; ConformanceError (an AssertionError) if one fails

`checks_for(MyHead)` yields the checks one by one, and the pytest plugin (`mmgenre_check` fixture, with the
`mmgenre_plugins` ini setting or `--mmgenre-plugin NAME`) makes one test per check and component of a plugin.
"""

from mmgenre.testing.contract import Check, CheckSkipped, ConformanceError
from mmgenre.testing.runner import check_component, checks_for
from mmgenre.testing.samples import blank_poster, draw_poster, poster, write_labels_csv, write_posters

__all__ = [
    "Check",
    "CheckSkipped",
    "ConformanceError",
    "blank_poster",
    "check_component",
    "checks_for",
    "draw_poster",
    "poster",
    "write_labels_csv",
    "write_posters",
]
