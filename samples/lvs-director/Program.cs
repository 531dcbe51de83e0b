// lvs-director: the director on real links. `lvs-director run ...` and `lvs-director list ...` (see LvsDirectorCli).
return await Lvs.Samples.Director.LvsDirectorCli.InvokeAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
