set terminal svg size 960,720 dynamic font "sans,12" background "white"
set output "bench/chart.svg"
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right
set grid ytics
set boxwidth 0.9
set multiplot layout 2,1 title "keygate vs bare net/http baseline (server on one core)"
set title "requests/s, log scale (higher is better; login's baseline: bare bcrypt)"
set logscale y
plot "bench/results/chart.dat" using 2:xtic(1) title "keygate" lc rgb "#1f77b4", '' using 3 title "baseline" lc rgb "#aaaaaa"
set title "p99 latency, ms, log scale (lower is better; login's baseline has none)"
plot "bench/results/chart.dat" using ($4 > 0 ? $4 : NaN):xtic(1) title "keygate" lc rgb "#1f77b4", '' using ($5 > 0 ? $5 : NaN) title "baseline" lc rgb "#aaaaaa"
unset multiplot
