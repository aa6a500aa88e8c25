package batch

// Pending is how many calls wait for a batch (tests wait for calls to pile up with it).
func Pending[In, Out any](b *Batcher[In, Out]) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}
