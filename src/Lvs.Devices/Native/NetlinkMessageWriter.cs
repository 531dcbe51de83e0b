using System.Buffers.Binary;
using System.Text;

namespace Lvs.Devices.Native;

/// <summary>Builds a batch of netlink messages with nested attributes (4-byte aligned, host-order headers).</summary>
internal sealed class NetlinkMessageWriter
{
    private const ushort NestedFlag = 0x8000;
    private readonly List<byte> _bytes = [];
    private readonly Stack<int> _open = new();
    private int _messageStart = -1;

    internal int Count => _bytes.Count;

    internal byte[] ToArray() => [.. _bytes];

    /// <summary>Starts a message: nlmsghdr then nfgenmsg.</summary>
    internal void BeginMessage(ushort type, ushort flags, uint sequence, byte family, ushort resourceId)
    {
        _messageStart = _bytes.Count;
        Span<byte> header = stackalloc byte[20];
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], sequence);
        header[16] = family;
        header[17] = 0; // NFNETLINK_V0
        BinaryPrimitives.WriteUInt16BigEndian(header[18..], resourceId);
        _bytes.AddRange(header.ToArray());
    }

    internal void EndMessage()
    {
        WriteLength(_messageStart, _bytes.Count - _messageStart, 4);
        _messageStart = -1;
    }

    internal void String(ushort type, string value) => Attribute(type, [.. Encoding.ASCII.GetBytes(value), 0]);

    internal void BigEndian32(ushort type, uint value)
    {
        var data = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(data, value);
        Attribute(type, data);
    }

    internal void Attribute(ushort type, ReadOnlySpan<byte> data)
    {
        int start = _bytes.Count;
        _bytes.AddRange(new byte[4]);
        _bytes.AddRange(data.ToArray());
        WriteLength(start, 4 + data.Length, 2);
        BinaryPrimitives.WriteUInt16LittleEndian(Span(start + 2, 2), type);
        Pad();
    }

    internal void BeginNested(ushort type)
    {
        _open.Push(_bytes.Count);
        _bytes.AddRange(new byte[4]);
        BinaryPrimitives.WriteUInt16LittleEndian(Span(_bytes.Count - 2, 2), (ushort)(type | NestedFlag));
    }

    internal void EndNested()
    {
        int start = _open.Pop();
        WriteLength(start, _bytes.Count - start, 2);
    }

    private void WriteLength(int at, int length, int size)
    {
        if (size == 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(Span(at, 4), (uint)length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(Span(at, 2), (ushort)length);
        }
    }

    private Span<byte> Span(int at, int length) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes).Slice(at, length);

    private void Pad()
    {
        while (_bytes.Count % 4 != 0)
        {
            _bytes.Add(0);
        }
    }
}
