using System.Globalization;
using System.Text;

namespace GptBert.Models;

/// <summary>
/// A model's architecture as a Mermaid flowchart (rendered by GitHub, GitLab and most Markdown viewers): inputs,
/// embeddings, every block with its sizes under its Hugging Face module name, the final norm, the head, and tied
/// weights as a dotted edge. Built from the configuration and the architecture name alone, so it describes exactly
/// what <see cref="ModelFactory"/> would build.
/// </summary>
public static class ModelDiagram
{
    static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>The flowchart source, starting "flowchart TD".</summary>
    public static string Mermaid(ModelConfig config, string architecture)
    {
        var g = new Graph();
        switch (config)
        {
            case BertConfig b: Bert(g, b, architecture); break;
            case Gpt2Config c: Gpt2(g, c, architecture); break;
            default: throw new GptBertException($"no diagram for model type {config.ModelType}") { Parameter = "Model" };
        }
        return g.ToString();
    }

    static void Bert(Graph g, BertConfig c, string arch)
    {
        int h = c.HiddenSize, heads = c.NumAttentionHeads;
        g.Node("inputs", "input_ids · attention_mask · token_type_ids", shape: "([", end: "])");
        g.Node("embeddings", $"bert.embeddings<br/>word {N(c.VocabSize)}×{h} + position {N(c.MaxPositionEmbeddings)}×{h} + token type {c.TypeVocabSize}×{h}<br/>LayerNorm · dropout");
        g.Edge("inputs", "embeddings");
        string last = "embeddings";
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string id = $"layer{i}";
            g.Node(id, $"bert.encoder.layer.{i}<br/>self-attention: {heads} heads × {h / Math.Max(heads, 1)}, bidirectional<br/>add + LayerNorm<br/>FFN {h}→{c.IntermediateSize}→{h} ({c.HiddenAct}) · add + LayerNorm");
            g.Edge(last, id);
            last = id;
        }
        bool tied = !(c.Extra?.TryGetValue("tie_word_embeddings", out var t) == true && t.ValueKind == System.Text.Json.JsonValueKind.False);
        string Labels() => $"{c.NumLabels} labels";
        switch (arch)
        {
            case "BertModel":
                g.Node("pooler", $"bert.pooler<br/>[CLS] → dense {h}×{h} · tanh");
                g.Edge(last, "pooler");
                g.Node("out", "last_hidden_state · pooler_output", shape: "([", end: "])");
                g.Edge(last, "out"); g.Edge("pooler", "out");
                break;
            case "BertForMaskedLM" or "BertForPreTraining":
                g.Node("mlm", $"cls.predictions<br/>transform: dense {h}×{h} · {c.HiddenAct} · LayerNorm<br/>decoder {h}×{N(c.VocabSize)} + bias");
                g.Edge(last, "mlm");
                if (tied) g.Tie("mlm", "embeddings", "tied to word embeddings");
                if (arch == "BertForPreTraining")
                {
                    g.Node("pooler", $"bert.pooler<br/>[CLS] → dense {h}×{h} · tanh");
                    g.Edge(last, "pooler");
                    g.Node("nsp", $"cls.seq_relationship<br/>{h}×2 (is next sentence)");
                    g.Edge("pooler", "nsp");
                }
                break;
            case "BertForNextSentencePrediction":
                g.Node("pooler", $"bert.pooler<br/>[CLS] → dense {h}×{h} · tanh");
                g.Edge(last, "pooler");
                g.Node("nsp", $"cls.seq_relationship<br/>{h}×2 (is next sentence)");
                g.Edge("pooler", "nsp");
                break;
            case "BertForSequenceClassification":
                g.Node("pooler", $"bert.pooler<br/>[CLS] → dense {h}×{h} · tanh");
                g.Edge(last, "pooler");
                g.Node("classifier", $"dropout · classifier<br/>{h}×{Labels()}");
                g.Edge("pooler", "classifier");
                break;
            case "BertForTokenClassification":
                g.Node("classifier", $"dropout · classifier (every token)<br/>{h}×{Labels()}");
                g.Edge(last, "classifier");
                break;
            case "BertForQuestionAnswering":
                g.Node("qa", $"qa_outputs (every token)<br/>{h}×2 → start_logits · end_logits");
                g.Edge(last, "qa");
                break;
            default:
                g.Node("head", arch);
                g.Edge(last, "head");
                break;
        }
    }

    static void Gpt2(Graph g, Gpt2Config c, string arch)
    {
        int h = c.NEmbd, heads = c.NHead, inner = c.NInner ?? 4 * h;
        g.Node("inputs", "input_ids · attention_mask", shape: "([", end: "])");
        g.Node("embeddings", $"transformer.wte {N(c.VocabSize)}×{h} + transformer.wpe {N(c.NPositions)}×{h}<br/>dropout");
        g.Edge("inputs", "embeddings");
        string last = "embeddings";
        for (int i = 0; i < c.NLayer; i++)
        {
            string id = $"h{i}";
            g.Node(id, $"transformer.h.{i}<br/>ln_1 · attn: {heads} heads × {h / Math.Max(heads, 1)}, causal · add<br/>ln_2 · mlp {h}→{inner}→{h} ({c.ActivationFunction}) · add");
            g.Edge(last, id);
            last = id;
        }
        g.Node("ln_f", $"transformer.ln_f<br/>LayerNorm {h}");
        g.Edge(last, "ln_f");
        switch (arch)
        {
            case "GPT2LMHeadModel":
                g.Node("lm_head", $"lm_head<br/>{h}×{N(c.VocabSize)} → next-token logits");
                g.Edge("ln_f", "lm_head");
                if (c.TieWordEmbeddings) g.Tie("lm_head", "embeddings", "tied to wte");
                break;
            case "GPT2ForSequenceClassification":
                g.Node("score", $"score (last real token)<br/>{h}×{c.NumLabels} labels");
                g.Edge("ln_f", "score");
                break;
            case "GPT2ForTokenClassification":
                g.Node("classifier", $"dropout · classifier (every token)<br/>{h}×{c.NumLabels} labels");
                g.Edge("ln_f", "classifier");
                break;
            case "GPT2Model":
                g.Node("out", "last_hidden_state · past_key_values", shape: "([", end: "])");
                g.Edge("ln_f", "out");
                break;
            default:
                g.Node("head", arch);
                g.Edge("ln_f", "head");
                break;
        }
    }

    sealed class Graph
    {
        readonly StringBuilder sb = new("flowchart TD\n");

        /// <summary>A node; labels are quoted, with characters Mermaid would read as syntax replaced by entities.</summary>
        public void Node(string id, string label, string shape = "[", string end = "]") =>
            sb.Append("    ").Append(id).Append(shape).Append('"').Append(label.Replace("\"", "#quot;")).Append('"').Append(end).Append('\n');

        public void Edge(string from, string to) => sb.Append("    ").Append(from).Append(" --> ").Append(to).Append('\n');

        public void Tie(string from, string to, string label) =>
            sb.Append("    ").Append(from).Append(" -.->|").Append(label).Append("| ").Append(to).Append('\n');

        public override string ToString() => sb.ToString();
    }
}
