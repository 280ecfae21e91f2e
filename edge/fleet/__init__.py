"""What the workers and nodes of one deployment share through Redis: locks (`locks`)."""
