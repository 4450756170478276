# Checks a CronJob kill -9 campaign (hack/kill9-campaign.sh -m CronJob) slot
# by slot against upstream's controller. Input lines:
#   created UNIX        the CronJob was created
#   ended UNIX          the campaign stopped watching (75 s after the last slot)
#   down KILL READY     a downtime: SIGKILL at KILL, ready again at READY
#   job NAME SLOT N     a Job, its scheduled time (unix s), status.succeeded
#   pod JOB PHASE       a pod of JOB
# Prints "problem: ..." lines and "summary SLOTS JOBS MUSTS SKIPPED" (JOBS: those
# of the checked slots; a Job of the slot after the last one is only checked
# for duplicates, it may still be running).
#
# A slot the server was up for (ready ≥ 1 s before it, not killed within 15 s
# after it) must have a Job. A slot inside a downtime must have a Job if it is
# the downtime's last slot (the catch-up run, within startingDeadlineSeconds)
# and must not if a later slot of the same downtime was missed too (upstream
# runs only the most recent missed time). Slots near a kill or a restart may
# go either way. Never two Jobs for one slot; each Job named for its slot and
# completed by exactly one Succeeded pod.
# The first slot after the creation's second: upstream schedules only times
# after creationTimestamp (whole seconds), and CREATED (taken after the
# create returned) may be that second or a later one; a CREATED on a
# minute's first second leaves that minute's slot unchecked either way.
$1 == "created" { first = (int($2 / 60) + 1) * 60 }
$1 == "ended" { last = int(($2 - 75) / 60) * 60 }
$1 == "down" { n++; kill[n] = $2; ready[n] = $3 }
$1 == "job" {
	jobs++
	if ($3 in job) printf "problem: two Jobs for slot %d: %s and %s\n", $3, job[$3], $2
	job[$3] = $2
	if ($2 != "campaign-" ($3 / 60)) printf "problem: Job %s is named for another slot than %d\n", $2, $3
	succeeded[$3] = $4
}
$1 == "pod" {
	pods[$2 " " $3]++
	if ($3 != "Succeeded") other[$2] = $3
}
END {
	for (s = first; s <= last; s += 60) {
		want = "must"
		for (i = 1; i <= n; i++) {
			if (s + 15 > kill[i] && s < ready[i] + 1) want = "may"
			if (s > kill[i] && s < ready[i]) want = (s + 60 >= ready[i]) ? "must" : "mustnot"
		}
		has = (s in job)
		slots++
		if (has) checked++
		if (has && (job[s] in other)) printf "problem: a pod of %s is %s\n", job[s], other[job[s]]
		if (has && succeeded[s] != 1) printf "problem: Job %s has succeeded=%s\n", job[s], succeeded[s]
		if (want == "must" && !has) printf "problem: no Job for slot %d\n", s
		if (want == "mustnot" && has) printf "problem: Job %s for slot %d, missed before a later slot of the same downtime\n", job[s], s
		if (want == "must") musts++
		if (want == "mustnot") skipped++
		if (has && pods[job[s] " Succeeded"] != 1) printf "problem: Job %s has %d Succeeded pods\n", job[s], pods[job[s] " Succeeded"]
	}
	printf "summary %d %d %d %d\n", slots, checked, musts, skipped
}
