-- /readyz asks whether every migration the server carries is applied: the writer may read
-- sqlx's record of them (and nothing more).
GRANT SELECT ON _sqlx_migrations TO trailkeep_writer;
