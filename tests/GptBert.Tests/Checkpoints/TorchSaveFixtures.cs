namespace GptBert.Tests.Checkpoints;

/// <summary>
/// Files written by real PyTorch (Debian bookworm's python3-torch 1.13.1), not by GptBert, so the
/// .bin reader is checked against the reference writer. Produced by this script:
/// <code>
/// # Generates the torch.save fixtures embedded in tests/GptBert.Tests/Checkpoints/TorchSaveFixtures.cs
/// # (Debian bookworm python3-torch 1.13.1).
/// import torch, collections, io, base64
/// sd = collections.OrderedDict()
/// sd['dense.weight'] = torch.tensor([[0.5, -1.25, 2.0], [3.0, -0.125, 1e-3]])
/// sd['dense.bias'] = torch.tensor([0.25, -4.0])
/// sd['half'] = torch.tensor([1.5, -2.0, 65504.0], dtype=torch.float16)
/// sd['bf16'] = torch.tensor([1.0, -0.5, 3.0e38], dtype=torch.bfloat16)
/// sd['long'] = torch.tensor([[1, -2], [3, 1 << 40]], dtype=torch.int64)
/// sd['int'] = torch.tensor([7, -8], dtype=torch.int32)
/// sd['bool'] = torch.tensor([True, False, True])
/// sd['u8'] = torch.tensor([0, 255], dtype=torch.uint8)
/// sd['f64'] = torch.tensor([1.25], dtype=torch.float64)
/// base = torch.arange(12, dtype=torch.float32)
/// sd['slice'] = base[4:10].view(2, 3)          # storage offset 4 into a 12-element storage
/// sd['prefix'] = base[:4]                       # same storage, offset 0
/// sd['transposed'] = torch.arange(6, dtype=torch.float32).view(2, 3).t()   # stride (1, 3)
/// sd['tied'] = sd['dense.weight']               # the same tensor object again
/// sd['scalar'] = torch.tensor(3.5)
/// sd['empty'] = torch.zeros(0, 4)
/// torch.save(sd, 'pytorch_model.bin')
/// buf = io.BytesIO()
/// torch.save(collections.OrderedDict([('w', torch.tensor([1.0, 2.0, 3.0]))]), buf)
/// open('archive_prefix.bin', 'wb').write(buf.getvalue())
/// p4 = collections.OrderedDict([('a.weight', torch.tensor([[1.0, 2.0], [3.0, 4.0]])), ('a.bias', torch.tensor([-1.0, 0.5], dtype=torch.float16))])
/// torch.save(p4, 'protocol4.bin', pickle_protocol=4)
/// for k, v in sd.items(): print(k, v.dtype, tuple(v.shape), v.storage_offset(), v.stride(), v.flatten().tolist())
/// </code>
/// It printed (name, dtype, shape, storage_offset, stride, values):
/// <code>
/// dense.weight torch.float32 (2, 3) 0 (3, 1) [0.5, -1.25, 2.0, 3.0, -0.125, 0.0010000000474974513]
/// dense.bias torch.float32 (2,) 0 (1,) [0.25, -4.0]
/// half torch.float16 (3,) 0 (1,) [1.5, -2.0, 65504.0]
/// bf16 torch.bfloat16 (3,) 0 (1,) [1.0, -0.5, 3.00405527047391e+38]
/// long torch.int64 (2, 2) 0 (2, 1) [1, -2, 3, 1099511627776]
/// int torch.int32 (2,) 0 (1,) [7, -8]
/// bool torch.bool (3,) 0 (1,) [True, False, True]
/// u8 torch.uint8 (2,) 0 (1,) [0, 255]
/// f64 torch.float64 (1,) 0 (1,) [1.25]
/// slice torch.float32 (2, 3) 4 (3, 1) [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
/// prefix torch.float32 (4,) 0 (1,) [0.0, 1.0, 2.0, 3.0]
/// transposed torch.float32 (3, 2) 0 (1, 3) [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
/// tied torch.float32 (2, 3) 0 (3, 1) [0.5, -1.25, 2.0, 3.0, -0.125, 0.0010000000474974513]
/// scalar torch.float32 () 0 () [3.5]
/// empty torch.float32 (0, 4) 0 (4, 1) []
/// </code>
/// </summary>
static class TorchSaveFixtures
{
    /// <summary>pytorch_model.bin from the script (archive prefix "pytorch_model/").</summary>
    public static byte[] PytorchModelBin => Convert.FromBase64String(
        "UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAWAAwAcHl0b3JjaF9tb2RlbC9kYXRhLnBrbEZCCABaWlpaWlpaWoACY2NvbGxlY3Rp" +
        "b25zCk9yZGVyZWREaWN0CnEAKVJxAShYDAAAAGRlbnNlLndlaWdodHECY3RvcmNoLl91dGlscwpfcmVidWlsZF90ZW5zb3JfdjIK" +
        "cQMoKFgHAAAAc3RvcmFnZXEEY3RvcmNoCkZsb2F0U3RvcmFnZQpxBVgBAAAAMHEGWAMAAABjcHVxB0sGdHEIUUsASwJLA4ZxCUsD" +
        "SwGGcQqJaAApUnELdHEMUnENWAoAAABkZW5zZS5iaWFzcQ5oAygoaARoBVgBAAAAMXEPaAdLAnRxEFFLAEsChXERSwGFcRKJaAAp" +
        "UnETdHEUUnEVWAQAAABoYWxmcRZoAygoaARjdG9yY2gKSGFsZlN0b3JhZ2UKcRdYAQAAADJxGGgHSwN0cRlRSwBLA4VxGksBhXEb" +
        "iWgAKVJxHHRxHVJxHlgEAAAAYmYxNnEfaAMoKGgEY3RvcmNoCkJGbG9hdDE2U3RvcmFnZQpxIFgBAAAAM3EhaAdLA3RxIlFLAEsD" +
        "hXEjSwGFcSSJaAApUnEldHEmUnEnWAQAAABsb25ncShoAygoaARjdG9yY2gKTG9uZ1N0b3JhZ2UKcSlYAQAAADRxKmgHSwR0cStR" +
        "SwBLAksChnEsSwJLAYZxLYloAClScS50cS9ScTBYAwAAAGludHExaAMoKGgEY3RvcmNoCkludFN0b3JhZ2UKcTJYAQAAADVxM2gH" +
        "SwJ0cTRRSwBLAoVxNUsBhXE2iWgAKVJxN3RxOFJxOVgEAAAAYm9vbHE6aAMoKGgEY3RvcmNoCkJvb2xTdG9yYWdlCnE7WAEAAAA2" +
        "cTxoB0sDdHE9UUsASwOFcT5LAYVxP4loAClScUB0cUFScUJYAgAAAHU4cUNoAygoaARjdG9yY2gKQnl0ZVN0b3JhZ2UKcURYAQAA" +
        "ADdxRWgHSwJ0cUZRSwBLAoVxR0sBhXFIiWgAKVJxSXRxSlJxS1gDAAAAZjY0cUxoAygoaARjdG9yY2gKRG91YmxlU3RvcmFnZQpx" +
        "TVgBAAAAOHFOaAdLAXRxT1FLAEsBhXFQSwGFcVGJaAApUnFSdHFTUnFUWAUAAABzbGljZXFVaAMoKGgEaAVYAQAAADlxVmgHSwx0" +
        "cVdRSwRLAksDhnFYSwNLAYZxWYloAClScVp0cVtScVxYBgAAAHByZWZpeHFdaAMoKGgEaAVoVmgHSwx0cV5RSwBLBIVxX0sBhXFg" +
        "iWgAKVJxYXRxYlJxY1gKAAAAdHJhbnNwb3NlZHFkaAMoKGgEaAVYAgAAADEwcWVoB0sGdHFmUUsASwNLAoZxZ0sBSwOGcWiJaAAp" +
        "UnFpdHFqUnFrWAQAAAB0aWVkcWxoDVgGAAAAc2NhbGFycW1oAygoaARoBVgCAAAAMTFxbmgHSwF0cW9RSwApKYloAClScXB0cXFS" +
        "cXJYBQAAAGVtcHR5cXNoAygoaARoBVgCAAAAMTJxdGgHSwB0cXVRSwBLAEsEhnF2SwRLAYZxd4loAClScXh0cXlScXp1LlBLBwj6" +
        "W3MTawQAAGsEAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAABQAEwBweXRvcmNoX21vZGVsL2RhdGEvMEZCDwBaWlpaWlpaWlpa" +
        "WlpaWloAAAA/AACgvwAAAEAAAEBAAAAAvm8SgzpQSwcIOd4+fRgAAAAYAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAUACYA" +
        "cHl0b3JjaF9tb2RlbC9kYXRhLzFGQiIAWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgAAgD4AAIDAUEsHCK2XZMUI" +
        "AAAACAAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAAFQA1AHB5dG9yY2hfbW9kZWwvZGF0YS8xMEZCMQBaWlpaWlpaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaAAAAAAAAgD8AAABAAABAQAAAgEAAAKBAUEsHCBeQ55EYAAAAGAAA" +
        "AFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAAFQAlAHB5dG9yY2hfbW9kZWwvZGF0YS8xMUZCIQBaWlpaWlpaWlpaWlpaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWloAAGBAUEsHCCv1ZTIEAAAABAAAAFBLAwQAAAAIAAAAAAAAAAAAAAAAAAAAAAAAFQA5AHB5dG9yY2hfbW9k" +
        "ZWwvZGF0YS8xMkZCNQBaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlBLAwQAAAgI" +
        "AAAAAAAAAAAAAAAAAAAAAAAAFAAOAHB5dG9yY2hfbW9kZWwvZGF0YS8yRkIKAFpaWlpaWlpaWloAPgDA/3tQSwcIwmSPagYAAAAG" +
        "AAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAUADgAcHl0b3JjaF9tb2RlbC9kYXRhLzNGQjQAWlpaWlpaWlpaWlpaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWoA/AL9if1BLBwiJRnDVBgAAAAYAAABQSwMEAAAICAAAAAAAAAAAAAAA" +
        "AAAAAAAAABQAOABweXRvcmNoX21vZGVsL2RhdGEvNEZCNABaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaAQAAAAAAAAD+/////////wMAAAAAAAAAAAAAAAABAABQSwcISLrr7SAAAAAgAAAAUEsDBAAACAgAAAAAAAAA" +
        "AAAAAAAAAAAAAAAUAB4AcHl0b3JjaF9tb2RlbC9kYXRhLzVGQhoAWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWloHAAAA+P///1BL" +
        "BwgqzossCAAAAAgAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAABQANgBweXRvcmNoX21vZGVsL2RhdGEvNkZCMgBaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgEAAVBLBwizg4SJAwAAAAMAAABQSwMEAAAICAAAAAAA" +
        "AAAAAAAAAAAAAAAAABQAOwBweXRvcmNoX21vZGVsL2RhdGEvN0ZCNwBaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWlpaWlpaWlpaAP9QSwcIcv3bbAIAAAACAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAUADwAcHl0b3Jj" +
        "aF9tb2RlbC9kYXRhLzhGQjgAWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWloA" +
        "AAAAAAD0P1BLBwjt1pSjCAAAAAgAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAABQANgBweXRvcmNoX21vZGVsL2RhdGEvOUZC" +
        "MgBaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWgAAAAAAAIA/AAAAQAAAQEAAAIBAAACg" +
        "QAAAwEAAAOBAAAAAQQAAEEEAACBBAAAwQVBLBwh4fWY+MAAAADAAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAABUADQBweXRv" +
        "cmNoX21vZGVsL3ZlcnNpb25GQgkAWlpaWlpaWlpaMwpQSwcI0Z5nVQIAAAACAAAAUEsBAgAAAAAICAAAAAAAAPpbcxNrBAAAawQA" +
        "ABYAAAAAAAAAAAAAAAAAAAAAAHB5dG9yY2hfbW9kZWwvZGF0YS5wa2xQSwECAAAAAAgIAAAAAAAAOd4+fRgAAAAYAAAAFAAAAAAA" +
        "AAAAAAAAAAC7BAAAcHl0b3JjaF9tb2RlbC9kYXRhLzBQSwECAAAAAAgIAAAAAAAArZdkxQgAAAAIAAAAFAAAAAAAAAAAAAAAAAAo" +
        "BQAAcHl0b3JjaF9tb2RlbC9kYXRhLzFQSwECAAAAAAgIAAAAAAAAF5DnkRgAAAAYAAAAFQAAAAAAAAAAAAAAAACYBQAAcHl0b3Jj" +
        "aF9tb2RlbC9kYXRhLzEwUEsBAgAAAAAICAAAAAAAACv1ZTIEAAAABAAAABUAAAAAAAAAAAAAAAAAKAYAAHB5dG9yY2hfbW9kZWwv" +
        "ZGF0YS8xMVBLAQIAAAAAAAgAAAAAAAAAAAAAAAAAAAAAAAAVAAAAAAAAAAAAAAAAAJQGAABweXRvcmNoX21vZGVsL2RhdGEvMTJQ" +
        "SwECAAAAAAgIAAAAAAAAwmSPagYAAAAGAAAAFAAAAAAAAAAAAAAAAAAABwAAcHl0b3JjaF9tb2RlbC9kYXRhLzJQSwECAAAAAAgI" +
        "AAAAAAAAiUZw1QYAAAAGAAAAFAAAAAAAAAAAAAAAAABWBwAAcHl0b3JjaF9tb2RlbC9kYXRhLzNQSwECAAAAAAgIAAAAAAAASLrr" +
        "7SAAAAAgAAAAFAAAAAAAAAAAAAAAAADWBwAAcHl0b3JjaF9tb2RlbC9kYXRhLzRQSwECAAAAAAgIAAAAAAAAKs6LLAgAAAAIAAAA" +
        "FAAAAAAAAAAAAAAAAABwCAAAcHl0b3JjaF9tb2RlbC9kYXRhLzVQSwECAAAAAAgIAAAAAAAAs4OEiQMAAAADAAAAFAAAAAAAAAAA" +
        "AAAAAADYCAAAcHl0b3JjaF9tb2RlbC9kYXRhLzZQSwECAAAAAAgIAAAAAAAAcv3bbAIAAAACAAAAFAAAAAAAAAAAAAAAAABTCQAA" +
        "cHl0b3JjaF9tb2RlbC9kYXRhLzdQSwECAAAAAAgIAAAAAAAA7daUowgAAAAIAAAAFAAAAAAAAAAAAAAAAADSCQAAcHl0b3JjaF9t" +
        "b2RlbC9kYXRhLzhQSwECAAAAAAgIAAAAAAAAeH1mPjAAAAAwAAAAFAAAAAAAAAAAAAAAAABYCgAAcHl0b3JjaF9tb2RlbC9kYXRh" +
        "LzlQSwECAAAAAAgIAAAAAAAA0Z5nVQIAAAACAAAAFQAAAAAAAAAAAAAAAAAACwAAcHl0b3JjaF9tb2RlbC92ZXJzaW9uUEsGBiwA" +
        "AAAAAAAAHgMtAAAAAAAAAAAADwAAAAAAAAAPAAAAAAAAAOQDAAAAAAAAUgsAAAAAAABQSwYHAAAAADYPAAAAAAAAAQAAAFBLBQYA" +
        "AAAADwAPAOQDAABSCwAAAAA=");

    /// <summary>torch.save into a BytesIO (archive prefix "archive/"): OrderedDict w = [1, 2, 3] float32.</summary>
    public static byte[] ArchivePrefixBin => Convert.FromBase64String(
        "UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAQABIAYXJjaGl2ZS9kYXRhLnBrbEZCDgBaWlpaWlpaWlpaWlpaWoACY2NvbGxlY3Rp" +
        "b25zCk9yZGVyZWREaWN0CnEAKVJxAVgBAAAAd3ECY3RvcmNoLl91dGlscwpfcmVidWlsZF90ZW5zb3JfdjIKcQMoKFgHAAAAc3Rv" +
        "cmFnZXEEY3RvcmNoCkZsb2F0U3RvcmFnZQpxBVgBAAAAMHEGWAMAAABjcHVxB0sDdHEIUUsASwOFcQlLAYVxColoAClScQt0cQxS" +
        "cQ1zLlBLBwgv+3xXpQAAAKUAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAAA4AHwBhcmNoaXZlL2RhdGEvMEZCGwBaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWlpaWlpaWloAAIA/AAAAQAAAQEBQSwcIsZYOsgwAAAAMAAAAUEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAP" +
        "ADcAYXJjaGl2ZS92ZXJzaW9uRkIzAFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWjMK" +
        "UEsHCNGeZ1UCAAAAAgAAAFBLAQIAAAAACAgAAAAAAAAv+3xXpQAAAKUAAAAQAAAAAAAAAAAAAAAAAAAAAABhcmNoaXZlL2RhdGEu" +
        "cGtsUEsBAgAAAAAICAAAAAAAALGWDrIMAAAADAAAAA4AAAAAAAAAAAAAAAAA9QAAAGFyY2hpdmUvZGF0YS8wUEsBAgAAAAAICAAA" +
        "AAAAANGeZ1UCAAAAAgAAAA8AAAAAAAAAAAAAAAAAXAEAAGFyY2hpdmUvdmVyc2lvblBLBgYsAAAAAAAAAB4DLQAAAAAAAAAAAAMA" +
        "AAAAAAAAAwAAAAAAAAC3AAAAAAAAANIBAAAAAAAAUEsGBwAAAACJAgAAAAAAAAEAAABQSwUGAAAAAAMAAwC3AAAA0gEAAAAA");

    /// <summary>torch.save(..., pickle_protocol=4): a.weight [[1, 2], [3, 4]] float32, a.bias [-1, 0.5] float16.</summary>
    public static byte[] Protocol4Bin => Convert.FromBase64String(
        "UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAASABAAcHJvdG9jb2w0L2RhdGEucGtsRkIMAFpaWlpaWlpaWlpaWoAEleEAAAAAAAAA" +
        "jAtjb2xsZWN0aW9uc5SMC09yZGVyZWREaWN0lJOUKVKUKIwIYS53ZWlnaHSUjAx0b3JjaC5fdXRpbHOUjBJfcmVidWlsZF90ZW5z" +
        "b3JfdjKUk5QoKIwHc3RvcmFnZZSMBXRvcmNolIwMRmxvYXRTdG9yYWdllJOUjAEwlIwDY3B1lEsEdJRRSwBLAksChpRLAksBhpSJ" +
        "aAIpUpR0lFKUjAZhLmJpYXOUaAcoKGgIaAmMC0hhbGZTdG9yYWdllJOUjAExlGgNSwJ0lFFLAEsChZRLAYWUiWgCKVKUdJRSlHUu" +
        "UEsHCLDdjrDsAAAA7AAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAAEAAWAHByb3RvY29sNC9kYXRhLzBGQhIAWlpaWlpaWlpa" +
        "WlpaWlpaWlpaAACAPwAAAEAAAEBAAACAQFBLBwhUFKeLEAAAABAAAABQSwMEAAAICAAAAAAAAAAAAAAAAAAAAAAAABAAMgBwcm90" +
        "b2NvbDQvZGF0YS8xRkIuAFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWloAvAA4UEsHCPZgAsUE" +
        "AAAABAAAAFBLAwQAAAgIAAAAAAAAAAAAAAAAAAAAAAAAEQA9AHByb3RvY29sNC92ZXJzaW9uRkI5AFpaWlpaWlpaWlpaWlpaWlpa" +
        "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWjMKUEsHCNGeZ1UCAAAAAgAAAFBLAQIAAAAACAgAAAAAAACw" +
        "3Y6w7AAAAOwAAAASAAAAAAAAAAAAAAAAAAAAAABwcm90b2NvbDQvZGF0YS5wa2xQSwECAAAAAAgIAAAAAAAAVBSnixAAAAAQAAAA" +
        "EAAAAAAAAAAAAAAAAAA8AQAAcHJvdG9jb2w0L2RhdGEvMFBLAQIAAAAACAgAAAAAAAD2YALFBAAAAAQAAAAQAAAAAAAAAAAAAAAA" +
        "AKABAABwcm90b2NvbDQvZGF0YS8xUEsBAgAAAAAICAAAAAAAANGeZ1UCAAAAAgAAABEAAAAAAAAAAAAAAAAAFAIAAHByb3RvY29s" +
        "NC92ZXJzaW9uUEsGBiwAAAAAAAAAHgMtAAAAAAAAAAAABAAAAAAAAAAEAAAAAAAAAPsAAAAAAAAAkgIAAAAAAABQSwYHAAAAAI0D" +
        "AAAAAAAAAQAAAFBLBQYAAAAABAAEAPsAAACSAgAAAAA=");
}
