// e2e scenarios drive the whole pipeline and wait until ClickHouse is exact.
jest.setTimeout(900_000);
