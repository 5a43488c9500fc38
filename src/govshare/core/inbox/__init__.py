"""In-app inbox (站内消息): notices to people about changes, review results and deadlines."""
