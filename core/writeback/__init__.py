"""Write-back of approved hours to FACTS ServiceHours: outbox, worker, status (issue 4)."""
