"""The Ninsho reference portal: a pure core (``reference.core``) and thin edges around it."""
