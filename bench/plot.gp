# bench/plot.gp -- charts of the coinhunt benchmark (bench/report calls it):
#   gnuplot -e "kind='tput'|'lat'; data='FILE'; out='PNG'; ttl='TITLE'" plot.gp
# data: one line per scenario: label median min max color p50 p99 p999
#   kind 'tput': req/s bars (median) with min-max error bars, coloured
#                grey = bare nginx, blue = coinhunt, orange = the peer
#   kind 'lat':  p50 / p99 / p99.9 latency per scenario, log scale
set terminal pngcairo size 1200,560 font "DejaVu Sans,10"
set output out
set title ttl
set grid ytics
set key top left
set xtics rotate by -30 left noenhanced
set bmargin 7
set offsets 0.6, 0.6, 0, 0
set style fill solid 0.85 border -1
if (kind eq 'tput') {
    set ylabel "requests/s"
    set yrange [0:*]
    set boxwidth 0.7
    set format y "%.0s%c"
    plot data using 0:2:3:4:(0.7):5:xtic(1) with boxerrorbars lc rgb variable notitle, \
         data using 0:2:(sprintf("%.0fk", $2/1000)) with labels offset 0,0.8 notitle
} else {
    set ylabel "latency, µs (log scale)"
    set logscale y
    set style data histograms
    set style histogram clustered gap 1
    set boxwidth 0.9
    plot data using 6:xtic(1) title "p50" lc rgb "#9ecae1", \
         data using 7 title "p99" lc rgb "#3182bd", \
         data using 8 title "p99.9" lc rgb "#08519c"
}
