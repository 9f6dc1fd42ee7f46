"""Partner feeds: fetching over HTTP and ingesting entries into the store."""
