"""Posting: plan, select, dispatch, record, placement, the queue operations, engagement."""
