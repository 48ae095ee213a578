"""What the neural models share for training: the epoch loop with early stopping, checkpoints and
resume (trainer), the output losses, lazy Adam, and the device resolver."""
