"""Dataset sources: a folder with labels.csv (the `folder` source) and a CSV manifest pointing anywhere."""

from mmgenre.api import hookimpl
from mmgenre_datasets.sources import FolderSource, ManifestSource


@hookimpl
def register_dataset_sources(register):
    register(FolderSource)
    register(ManifestSource)
