using TorchSharp;
var a = torch.randn(64, 64);
var b = a.matmul(a.t());
Console.WriteLine($"ok {b.shape[0]} {torch.get_num_threads()}");
