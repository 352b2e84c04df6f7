"""Simulated nodes: many cheap fake kubelets in one process, for tests, demos and scale.

They register Node objects, renew their Leases, and move the pods bound to them through
ContainerCreating → Running/Ready → (for pods meant to finish) Succeeded or Failed, honour
graceful deletion and restart crashing containers with back-off. They are the only part
of nanokube that fakes containers: the scheduler and controllers talk to them through the
API exactly as they will talk to real kubelets.

- `lifecycle`: what a simulated pod does next (pure: pod, record, time → status and action);
- `nodes`: the Node object a simulated kubelet registers and its Lease;
- `runner`: the process (`nanokube sim-nodes`): informers, workers, heartbeats.
"""
