using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert encdec init`: warm-start a BERT-encoder/GPT-2-decoder model (bert2gpt2) from two pretrained directories.</summary>
public static class EncdecCommand
{
    const string Workflow = """
        gptbert encdec init --encoder minilm --decoder ./gpt2 --output runs/b2g
        gptbert finetune --model runs/b2g --train data/translation/en-fr/train.jsonl --validation data/translation/en-fr/validation.jsonl --output runs/b2g-fr --epochs 3
        gptbert translate --model runs/b2g-fr --data data/translation/en-fr/test.jsonl --num-beams 4
        """;

    public static Command Create(CliContext ctx)
    {
        var command = new Command("encdec", """
            Encoder-decoder models (bert2gpt2): a BERT encoder reads the source, a GPT-2 decoder writes the target and attends
            to the encoder through cross-attention in every block (transformers' EncoderDecoderModel, Rothe et al. 2020).
            'init' builds one from a pretrained BERT and a pretrained GPT-2; 'gptbert finetune --model DIR' trains it on
            source/target pairs; 'gptbert translate' and 'gptbert summarize' generate with it (greedy or --num-beams).
            """).WithSummary("Build a BERT-encoder/GPT-2-decoder model (warm start) for translation and summarization")
            .WithExamples(Workflow);
        command.Subcommands.Add(Init(ctx));
        return command;
    }

    static Command Init(CliContext ctx)
    {
        var command = new Command("init", """
            Warm-start an encoder-decoder as transformers' EncoderDecoderModel.from_encoder_decoder_pretrained does: every
            weight of --encoder (a BERT: the built-in 'minilm' or 'arctic-xs', or any BERT directory; its BertModel part) and
            of --decoder (a GPT-2 language model directory) is copied exactly; the decoder gets add_cross_attention, and the
            new cross-attention layers (crossattention.q_attn/c_attn/c_proj, ln_cross_attn) are initialised as GPT-2
            initialises layers; enc_to_dec_proj maps the encoder's width to the decoder's when they differ. These new weights
            know nothing yet: fine-tune the result on pairs before using it. decoder_start_token_id is the decoder's bos
            token (GPT-2's <|endoftext|>), pad_token_id its pad (else eos).
            --output is a Hugging Face directory (config.json with model_type "encoder-decoder", model.safetensors) that
            transformers loads with EncoderDecoderModel.from_pretrained. It carries both tokenizers: the decoder's at the top
            (AutoTokenizer.from_pretrained(DIR) decodes generate()'s ids) and the encoder's in encoder_tokenizer/
            (AutoTokenizer.from_pretrained(DIR, subfolder="encoder_tokenizer") reads the source).
            """).WithSummary("Warm-start an encoder-decoder from a BERT and a GPT-2 directory")
            .WithExamples("""
                gptbert encdec init --encoder minilm --decoder ./gpt2 --output runs/b2g
                gptbert encdec init --encoder runs/bert-small --decoder runs/gpt-small --output runs/b2g-small --json
                """ + "\n" + Workflow);
        var encoder = new Option<string>("--encoder") { Description = "BERT to read the source: a built-in (minilm, arctic-xs) or a BERT directory", HelpName = "NAME|DIR", Required = true };
        var decoder = new Option<string>("--decoder") { Description = "GPT-2 language model directory to write the target", HelpName = "DIR", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "New directory for the encoder-decoder (must not exist or be empty)", HelpName = "DIR", Required = true };
        var seed = new Option<long>("--seed") { Description = "Random seed of the new cross-attention weights (default: 1)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (output, tensors copied, newly initialised) instead of text" };
        foreach (var o in new Option[] { encoder, decoder, output, seed, json }) command.Options.Add(o);
        command.SetAction(r =>
        {
            string enc = r.GetValue(encoder)!, dec = r.GetValue(decoder)!, outDir = r.GetValue(output)!;
            if (File.Exists(outDir)) throw new UsageException($"--output {outDir} is a file; give a new directory");
            var report = Seq2Seq.WarmStart(enc, dec, outDir, r.GetValue(seed));
            var c = report.Config;
            if (r.GetValue(json))
            {
                ctx.Out.JsonPretty(j =>
                {
                    j.WriteString("output", report.Output);
                    j.WriteString("encoder", enc);
                    j.WriteString("decoder", dec);
                    j.WriteNumber("encoder_tensors", report.EncoderTensors);
                    j.WriteNumber("decoder_tensors", report.DecoderTensors);
                    j.WriteStartArray("newly_initialized");
                    foreach (var k in report.NewlyInitialized) j.WriteStringValue(k);
                    j.WriteEndArray();
                    j.WriteBoolean("enc_to_dec_proj", report.Projection);
                    j.WriteNumber("parameters", report.Parameters);
                    j.WriteNumber("decoder_start_token_id", c.DecoderStartTokenId ?? -1);
                    j.WriteNumber("pad_token_id", c.PadTokenId ?? -1);
                });
            }
            else
            {
                var o = ctx.Out;
                o.Line($"encoder-decoder written to {report.Output}: {report.Parameters:N0} parameters");
                o.Line($"  encoder  {enc}: BERT, {c.Encoder.NumHiddenLayers} layers, {c.Encoder.HiddenSize} wide; {report.EncoderTensors} tensors copied");
                o.Line($"  decoder  {dec}: GPT-2, {c.Decoder.NLayer} layers, {c.Decoder.NEmbd} wide; {report.DecoderTensors} tensors copied");
                o.Line($"  newly initialised ({report.NewlyInitialized.Count} tensors, untrained until fine-tuned):");
                foreach (var p in report.NewlyInitializedPatterns) o.Line($"    {p}");
                o.Line($"  decoder_start_token_id {c.DecoderStartTokenId}, pad_token_id {c.PadTokenId}; tokenizers: decoder's at the top, encoder's in {Seq2Seq.EncoderTokenizerFolder}/");
                o.Line($"next:  gptbert finetune --model {report.Output} --train PAIRS.jsonl --output RUN_DIR");
            }
            ctx.Out.Flush();
            return ExitCodes.Ok;
        });
        return command;
    }
}
