"""Training dynamics: SGD (torch) and SGLD local-learning-coefficient estimation (jax)."""
