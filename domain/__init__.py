"""The router's vocabulary: the statuses and kinds every layer speaks and the database's CHECK
constraints enforce, defined once here so the tables and the code cannot drift apart."""
