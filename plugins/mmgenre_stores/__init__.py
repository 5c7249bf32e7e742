"""The built-in feature stores (the SQLite cache, Parquet shards on any fsspec URL) as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_stores.components import ParquetShards, SqliteCache


@hookimpl
def register_feature_stores(register):
    for store in (SqliteCache, ParquetShards):
        register(store)
