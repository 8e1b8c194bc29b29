"""The archive node behind ``qrscp``: an index of stored instances in a database (SQLite in the
storage directory by default, PostgreSQL by URL) and the C-STORE, C-FIND, C-GET and C-MOVE
handlers that serve it.

Modules:

* :mod:`~dicomnet.archive.attributes` — which attributes are indexed at which level (PS3.4 C.6)
  and how a data set's values become index values;
* :mod:`~dicomnet.archive.schema` — the tables (SQLAlchemy 2 Core), the schema version;
* :mod:`~dicomnet.archive.matching` — PS3.4 C.2.2.2 key matching as SQL conditions;
* :mod:`~dicomnet.archive.index` — opening, migrating, adding instances, querying;
* :mod:`~dicomnet.archive.handlers` — the event handlers ``qrscp`` binds.

SQLAlchemy is imported by these modules only: nothing else in dicomnet imports them at start-up.
"""
