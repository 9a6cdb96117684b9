"""Platform edges: each turns platform events into Turns and Replies into platform messages."""
