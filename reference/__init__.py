"""The Ninsho reference portal: a pure core (``ninsho.reference.core``) and thin edges around it."""
