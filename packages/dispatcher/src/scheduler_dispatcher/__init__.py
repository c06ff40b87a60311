"""The scheduling loop: cron fires, dispatch, retries, timeouts."""
