// Integration tests wait on real servers (group joins, restarts): longer per-test timeout.
jest.setTimeout(120_000);
