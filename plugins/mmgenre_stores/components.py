"""The store components: the SQLite feature cache (the default) and Parquet shards on an fsspec URL."""

from __future__ import annotations

from pydantic import Field

from mmgenre.api import Params, Store


class SqliteParams(Params):
    url: str = Field("", description="the cache folder [default: MMGENRE_CACHE, else ~/.cache/mmgenre]")
    read_only: bool = Field(False, description="never write (new entries are kept in memory)")


class SqliteCache(Store):
    """The feature cache in one SQLite file (a plain path, or sqlite:PATH); the default store."""

    name = "sqlite"
    Params = SqliteParams
    schemes = ("", "sqlite")

    def __init__(self, params=None) -> None:
        from mmgenre.api import FeatureCache

        super().__init__(params)
        self.cache = FeatureCache(self.params.url or None, read_only=self.params.read_only)

    @classmethod
    def url_params(cls, url: str) -> dict:
        return {"url": url.removeprefix("sqlite:")}

    @classmethod
    def conformance_params(cls, folder):
        return {"url": str(folder / "cache")}

    @property
    def location(self) -> str:
        return str(self.cache.path)

    def register(self, namespace):
        return self.cache.register(namespace)

    def missing(self, namespace, keys):
        return self.cache.missing(namespace, keys)

    def get_many(self, namespace, keys):
        return self.cache.get_many(namespace, keys)

    def put_many(self, namespace, items):
        self.cache.put_many(namespace, items)

    def close(self) -> None:
        self.cache.close()


class ShardParams(Params):
    url: str = Field(description="the folder: parquet+file:///PATH, s3://BUCKET/PREFIX, parquet+PROTOCOL://...")
    endpoint_url: str | None = Field(None, description="an S3-compatible service's endpoint (MinIO, moto, ...)")
    anon: bool = Field(False, description="S3 without credentials (public buckets)")
    read_only: bool = Field(False, description="never write (new entries are kept in memory)")


class ParquetShards(Store):
    """Parquet shards on any fsspec URL (parquet+file:///PATH, s3://BUCKET/PREFIX): many hosts write at once."""

    name = "parquet"
    Params = ShardParams
    schemes = ("parquet+file", "parquet+s3", "s3", "gs", "gcs", "abfs", "az")
    requires_modules = ("pyarrow", "fsspec")
    install_hint = "pip install 'mmgenre[s3]'"

    def __init__(self, params=None) -> None:
        from mmgenre.api import ShardStore

        super().__init__(params)
        p = self.params
        url = p.url.removeprefix("parquet+")
        options = {}
        if url.startswith("s3://"):
            options = {
                "anon": p.anon,
                **({"client_kwargs": {"endpoint_url": p.endpoint_url}} if p.endpoint_url else {}),
            }
        self.shards = ShardStore(url, options, read_only=p.read_only)

    @classmethod
    def conformance_params(cls, folder):
        return {"url": f"parquet+file://{folder / 'shards'}"}

    @property
    def location(self) -> str:
        return self.params.url

    def register(self, namespace):
        return self.shards.register(namespace)

    def missing(self, namespace, keys):
        return self.shards.missing(namespace, keys)

    def get_many(self, namespace, keys):
        return self.shards.get_many(namespace, keys)

    def put_many(self, namespace, items):
        self.shards.put_many(namespace, items)

    def close(self) -> None:
        self.shards.close()
