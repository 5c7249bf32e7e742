"""mmgenre: multimodal movie-genre classification from posters, built from plugins."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmgenre")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

DEFAULT_GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Drama", "Family",
    "Fantasy", "Horror", "Mystery", "Romance", "Sci-Fi", "Thriller",
)  # fmt: skip
