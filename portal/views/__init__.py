"""Views of the training portal: thin shells over the same selectors and services as the API."""
