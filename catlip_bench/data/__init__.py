"""Data: the offline caches (NLTK, demo sets), labelled webdataset shards, registered datasets."""
