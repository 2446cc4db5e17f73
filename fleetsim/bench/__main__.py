from fleetsim.bench.figures import main

main()
