"""The long-running process: scheduler, jobs, schedules, lock, logs, status."""
