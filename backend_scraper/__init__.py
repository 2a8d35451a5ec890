"""SCRAPE mode: walk a person's own Google Photos web page in a real browser and send what it
shows to the API (``POST /api/v1/images/scraped``). Runs as its own process (``dupfinder
scrape``); imports nothing from ``backend``."""
