"""Understanding a HubSpot flow definition: its actions in graph order, in words
(words.py), and what changed between two of them (diff.py). Pure functions over
the normalized JSON, used by the store (version summaries), the services, the
command line and the window alike, so it sits below all of them."""
