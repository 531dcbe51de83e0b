// Skeleton: the commands land with issue 20 (see docs/director.md).
Console.Error.WriteLine("not implemented yet (issue 20)");
return 1;
