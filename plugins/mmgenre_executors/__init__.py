"""The built-in executors (local, ray, dask) as an mmgenre plugin: where `mmgenre features` computes."""

from mmgenre.api import hookimpl
from mmgenre_executors.components import DaskExecutorComponent, LocalExecutorComponent, RayExecutorComponent


@hookimpl
def register_executors(register):
    for executor in (LocalExecutorComponent, RayExecutorComponent, DaskExecutorComponent):
        register(executor)
