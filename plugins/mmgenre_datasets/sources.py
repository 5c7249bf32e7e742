"""The built-in dataset sources; both read the same csv format through `read_labels_csv`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mmgenre.api import DatasetError, DatasetSource, Params, PosterDataset, load_dataset, read_labels_csv


class FolderParams(Params):
    path: str = Field(description="a folder holding the images and labels.csv (columns file, genres)")


class FolderSource(DatasetSource):
    """A folder of posters with a labels.csv whose `file` column is relative to the folder."""

    name = "folder"
    Params = FolderParams

    @classmethod
    def conformance_params(cls, folder: Path) -> dict:
        from mmgenre.testing import write_labels_csv, write_posters

        posters = folder / "posters"
        write_labels_csv(posters / "labels.csv", write_posters(posters), relative_to=posters)
        return {"path": str(posters)}

    def load(self, labels: list[str]) -> PosterDataset:
        dataset = load_dataset(self.params.path, labels)
        dataset.reference = self.reference()
        return dataset

    def reference(self) -> dict:
        return {"name": self.name, "params": {"path": str(Path(self.params.path).resolve())}}


class ManifestParams(Params):
    path: str = Field(description="a CSV file; its rows name image files by absolute path or relative to it")
    file_column: str = Field("file", description="column holding the image path")
    genres_column: str = Field("genres", description="column holding the genres joined by '|'")


class ManifestSource(DatasetSource):
    """A CSV manifest whose rows point at image files anywhere (nothing is copied)."""

    name = "manifest"
    Params = ManifestParams

    @classmethod
    def conformance_params(cls, folder: Path) -> dict:
        from mmgenre.testing import write_labels_csv, write_posters

        manifest = folder / "lists" / "posters.csv"  # rows point into a sibling folder: ../images/poster-0.jpg
        write_labels_csv(manifest, write_posters(folder / "images"), relative_to=manifest.parent)
        return {"path": str(manifest)}

    def load(self, labels: list[str]) -> PosterDataset:
        path = Path(self.params.path)
        if not path.is_file():
            raise DatasetError(f"manifest {path} does not exist (a CSV file with columns file, genres)")
        dataset = read_labels_csv(path, path.parent, labels, self.params.file_column, self.params.genres_column)
        dataset.reference = self.reference()
        return dataset

    def reference(self) -> dict:
        params = self.params.model_dump(mode="json")
        return {"name": self.name, "params": {**params, "path": str(Path(self.params.path).resolve())}}
