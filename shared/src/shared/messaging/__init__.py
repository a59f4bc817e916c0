"""The messaging kit: error replies, RPC endpoints, outbox relay, idempotent consumers."""
