"""What the network learns: stats, the movement, the report and its charts."""
